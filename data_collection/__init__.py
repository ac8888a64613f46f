"""Demonstrations: the dataset format, Ray collection, teleoperation and hindsight relabeling."""

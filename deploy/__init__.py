"""Running robots: the control loop, instruction interfaces, and the `bcz` command line."""

"""Cameras: one abstract interface (`camera`); a PyBullet renderer (`pybullet_camera`) and OpenCV devices
for real arms, each imported from its own module so the interface loads no renderer."""

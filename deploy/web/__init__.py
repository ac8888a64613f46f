"""The web page of `bcz run web=true`: live cameras, instruction box, figures, teleop, e-stop."""

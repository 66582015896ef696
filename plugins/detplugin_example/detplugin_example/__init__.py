"""An example third-party detcore plugin."""

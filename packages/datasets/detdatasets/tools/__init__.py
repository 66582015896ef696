"""Dataset tools behind ``detcore data``: synth, browse, convert (imported on use)."""

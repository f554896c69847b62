"""What the pipeline writes: files, GeoPackages, styles, maps; only what it is given."""

"""Datasets, image I/O, MATLAB-compatible resizing and the importance-map cache."""

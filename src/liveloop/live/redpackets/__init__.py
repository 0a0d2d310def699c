"""Red packets (红包): lucky or equal splits, atomic grabs, credited to the viewer."""

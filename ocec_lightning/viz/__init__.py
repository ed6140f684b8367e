"""Plotting helpers shared by callbacks, analysis and previews (fonts, figure canvases)."""

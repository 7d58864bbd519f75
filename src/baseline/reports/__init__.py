"""Pure renderers for summaries and comparisons: data in, string out (markdown, HTML, inline SVG)."""

"""The maps: texts, plain map data, layout, labels, drawing, chart, saving."""

"""cmu610bsp: one board description in, a consistent CMU610 BSP out."""

__version__ = "0.1.0"

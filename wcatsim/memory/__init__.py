"""The only bridge between a model and ``sram_models``: a model's memories and the fault evaluator."""

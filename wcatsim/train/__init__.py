"""Training a quantized model: quantizers (``quant``), models, datasets, the trainer, health checks,
post-training quantization and checkpoints."""

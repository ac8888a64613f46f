"""The learning core: frozen language encoder, ViT and BC-Z policies, training, evaluation, checkpoints."""

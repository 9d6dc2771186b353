"""The k-mer language model: tokenizer, corpus, masking, models, pretraining, fine-tuning, inference, baselines."""

"""Classifiers: the fine-tuned transformer, the lexicon baseline, training and evaluation,
topic and entity taggers. Public surface: ``models.base`` (the seam) and
``models.registry.load_classifier``."""

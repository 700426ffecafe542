"""Understanding what a caller means: intents by example, out-of-scope detection, safety by meaning.

The conversation talks to one small interface, `Understanding` (understand.py); the classifier
(classifier.py) and the features it reads (features.py) can be swapped there.
"""

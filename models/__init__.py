"""Neural models: backbones, retrieval descriptors (PAN and baselines), the instance classifier.

Imports nothing else of lootwatch. A model is always rebuilt from a name plus a card.
"""

from __future__ import annotations

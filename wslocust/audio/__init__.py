"""Audio for voice turns, socket-free: PCM16 mono read from WAV files or made up, resampled, cut into
frames, and encoded as protocols need it (μ-law for telephony). Import from the submodules.
"""

from __future__ import annotations

__all__: list[str] = []

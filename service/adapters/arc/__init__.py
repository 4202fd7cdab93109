"""The alarm receiving centre (ARC): SIA DC-09 frames and the link that carries them."""

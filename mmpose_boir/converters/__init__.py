from .release_checkpoint import (ReleaseCheckpointError, convert_state_dict,
                                 release_key_to_ours)

__all__ = [
    'ReleaseCheckpointError', 'convert_state_dict', 'release_key_to_ours'
]

from .release_checkpoint import (REQUIRED_RELEASE_KEYS, ReleaseCheckpointError,
                                 convert_state_dict, extract_state_dict,
                                 load_release_checkpoint, release_key_to_ours)

__all__ = [
    'REQUIRED_RELEASE_KEYS', 'ReleaseCheckpointError', 'convert_state_dict',
    'extract_state_dict', 'load_release_checkpoint', 'release_key_to_ours'
]

from .denormal_hook import FlushDenormalHook

__all__ = ['FlushDenormalHook']

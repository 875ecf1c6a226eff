from .boir import BoIR

__all__ = ['BoIR']

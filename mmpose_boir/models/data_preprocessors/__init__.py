from .multiscale import BoIRDataPreprocessor

__all__ = ['BoIRDataPreprocessor']

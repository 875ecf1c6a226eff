from .data_preprocessor import BoIRDataPreprocessor

__all__ = ['BoIRDataPreprocessor']

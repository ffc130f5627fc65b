"""Data preprocessors: BEVT's mixed image/video batches."""
from .bevt_data_preprocessor import BEVTDataPreprocessor

__all__ = ['BEVTDataPreprocessor']

"""kaohe-excel: batch processing of performance-assessment workbooks (考核表格批处理)."""

__version__ = "0.1.0"

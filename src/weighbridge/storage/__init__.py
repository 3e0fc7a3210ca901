"""Byte storage behind one small interface: chunks while uploading, model files after."""

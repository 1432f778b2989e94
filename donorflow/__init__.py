"""donorflow"""

"""Pipeline -> destinations: the Output interface and its kinds, the writer thread that writes
them, and the registry that shares them by destination."""

from lclog.outputs.base import FileOutput, Item, MemoryOutput, Output, StreamOutput

__all__ = ["FileOutput", "Item", "MemoryOutput", "Output", "StreamOutput"]

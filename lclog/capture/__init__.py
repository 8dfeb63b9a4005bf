"""Hook -> capture: LangChain's callbacks, the run tree, and what each hook keeps of its arguments."""

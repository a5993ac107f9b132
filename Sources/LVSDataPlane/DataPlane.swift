import LVSEngine

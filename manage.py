#!/usr/bin/env python
from jinshequ.cli import main

if __name__ == "__main__":
    main()

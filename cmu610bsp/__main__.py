from cmu610bsp.cli import main

main()

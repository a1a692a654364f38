from cmu610bsp.main import main

main()

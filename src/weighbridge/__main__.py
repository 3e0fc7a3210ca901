from weighbridge.cli.main import main

main()

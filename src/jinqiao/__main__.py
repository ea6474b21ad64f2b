from jinqiao.cli.main import main

main()

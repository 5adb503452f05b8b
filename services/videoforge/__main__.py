from videoforge.cli.main import app

app(prog_name="videoforge")

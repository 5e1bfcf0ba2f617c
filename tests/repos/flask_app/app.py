from flask import Flask

app = Flask(__name__)
PORT = 8080


@app.route("/")
def index() -> str:
    return "hello"


if __name__ == "__main__":
    app.run(port=PORT)

from flask import Flask

admin = Flask("admin")


@admin.get("/health")
def health() -> str:
    return "ok"

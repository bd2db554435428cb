SECRET_KEY = "test-only"
DEBUG = True
ROOT_URLCONF = "mysite.urls"
ALLOWED_HOSTS = ["*"]

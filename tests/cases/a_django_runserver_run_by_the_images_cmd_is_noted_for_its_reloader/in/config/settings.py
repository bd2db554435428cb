SECRET_KEY = "x"
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

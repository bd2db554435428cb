# my own setup
import logging

from django.http import JsonResponse


# Logs nothing itself: the only record of a request is the server's access line.
def status(request, part: str):
    return JsonResponse({"part": part, "ok": True})

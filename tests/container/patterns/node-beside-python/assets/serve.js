// Serves the front end's static files.
const http = require("http");
const fs = require("fs");
const path = require("path");

http
  .createServer((req, res) => {
    const file = path.join(__dirname, "public", path.basename(req.url) || "index.html");
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404);
        res.end("not found");
        return;
      }
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(data);
    });
  })
  .listen(3000);

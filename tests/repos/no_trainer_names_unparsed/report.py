import json

print(json.dumps({"rows": 3}))

import json

print(json.dumps({"plot": "nothing to train"}))

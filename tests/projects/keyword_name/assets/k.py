from assetflow import asset


@asset(name="class")
def klass():
    return 1

"""reeld's tests. A package so that ``tests.support`` imports the same way from every test folder."""

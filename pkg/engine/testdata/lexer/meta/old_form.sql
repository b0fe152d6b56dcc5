/* <pgmi:meta id="6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83" idempotent="true"></pgmi:meta> */

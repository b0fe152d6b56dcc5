/* <pgmi:meta id="02020202-0202-4202-8202-020202020202" idempotent="true"/> */
